import { useState } from "react";
import { Link } from "react-router";
import { useTakeBack, type HeldConversation, type LeaderOverview } from "../../api/monitoring";
import { FormError } from "../FormError";
import { assignable } from "./live";

interface Props {
  leader: LeaderOverview;
  held: HeldConversation[];
  leaders: LeaderOverview[];
}

/** The conversations a leader holds, each one to take back to the queue or move on. */
export function HeldList({ leader, held, leaders }: Props) {
  if (held.length === 0) return null;
  const others = assignable(leaders, leader.id);
  return (
    <ul className="dash-held" aria-label={`Held by ${leader.display_name}`}>
      {held.map((c) => (
        <HeldItem key={c.conversation_id} held={c} from={leader} others={others} />
      ))}
    </ul>
  );
}

const QUEUE = "queue";

interface ItemProps {
  held: HeldConversation;
  from: LeaderOverview;
  others: LeaderOverview[];
}

function HeldItem({ held, from, others }: ItemProps) {
  const take = useTakeBack();
  const [target, setTarget] = useState(QUEUE);
  const id = held.conversation_id;
  const name = `#${id} of ${held.agent_name}`;
  const chosen = others.some((l) => String(l.id) === target) ? target : QUEUE;
  return (
    <li>
      <Link to={`/conversations/${id}`}>{name}</Link>
      {held.topic_name !== null && <span className="tile-detail"> · {held.topic_name}</span>}
      <form
        className="dash-assign"
        aria-label={`Take back ${name} from ${from.display_name}`}
        onSubmit={(event) => {
          event.preventDefault();
          take.mutate({ conversationId: id, leaderId: chosen === QUEUE ? null : Number(chosen) });
        }}
      >
        <label className="visually-hidden" htmlFor={`take-${id}`}>
          Take {name} to
        </label>
        <select id={`take-${id}`} value={chosen} onChange={(e) => setTarget(e.target.value)}>
          <option value={QUEUE}>To the queue</option>
          {others.map((l) => (
            <option key={l.id} value={l.id}>
              To {l.display_name} ({l.free} free)
            </option>
          ))}
        </select>
        <button type="submit" className="button secondary small" disabled={take.isPending}>
          Take back
        </button>
      </form>
      {take.error !== null && <FormError error={take.error} />}
    </li>
  );
}
