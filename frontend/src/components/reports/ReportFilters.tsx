import type { ReportScope } from "../../api/reports";
import { useTopics } from "../../api/topics";
import type { DirectoryEntry } from "../../api/types";
import { useDirectory } from "../../api/users";
import { PersonSelect } from "../PersonSelect";
import { timeZones, type ScopeParam } from "./scope";

interface Props {
  scope: ReportScope;
  set: (name: ScopeParam, value: string | null) => void;
  clear: () => void;
}

/** The report's range, zone and filters; each change goes to the URL. */
export function ReportFilters({ scope, set, clear }: Props) {
  const topics = useTopics({ includeArchived: true });
  const directory = useDirectory();
  const people = (role: DirectoryEntry["role"]) =>
    (directory.data ?? [])
      .filter((u) => u.role === role)
      .sort((a, b) => a.display_name.localeCompare(b.display_name));
  const filtered =
    scope.topicId !== undefined || scope.leaderId !== undefined || scope.agentId !== undefined;

  return (
    <form
      className="card report-filters"
      aria-label="Report filters"
      onSubmit={(e) => e.preventDefault()}
    >
      <div className="field">
        <label htmlFor="report-from">From</label>
        <input
          id="report-from"
          type="date"
          value={scope.from}
          max={scope.to}
          onChange={(e) => set("from", e.target.value || null)}
        />
      </div>
      <div className="field">
        <label htmlFor="report-to">To</label>
        <input
          id="report-to"
          type="date"
          value={scope.to}
          min={scope.from}
          onChange={(e) => set("to", e.target.value || null)}
        />
      </div>
      <div className="field">
        <label htmlFor="report-tz">Time zone</label>
        <select id="report-tz" value={scope.tz} onChange={(e) => set("tz", e.target.value)}>
          {timeZones(scope.tz).map((zone) => (
            <option key={zone} value={zone}>
              {zone.replaceAll("_", " ")}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="report-topic">Topic</label>
        <select
          id="report-topic"
          value={scope.topicId ?? ""}
          onChange={(e) => set("topic_id", e.target.value || null)}
        >
          <option value="">Any topic</option>
          {topics.data?.map((t) => (
            <option key={t.id} value={t.id}>
              {t.name}
              {t.archived ? " (archived)" : ""}
            </option>
          ))}
        </select>
      </div>
      <PersonSelect
        id="report-leader"
        label="Team leader"
        anyone="Any team leader"
        people={people("teamleader")}
        value={String(scope.leaderId ?? "")}
        onChange={(value) => set("leader_id", value)}
      />
      <PersonSelect
        id="report-agent"
        label="Agent"
        anyone="Any agent"
        people={people("agent")}
        value={String(scope.agentId ?? "")}
        onChange={(value) => set("agent_id", value)}
      />
      {filtered && (
        <button type="button" className="button secondary" onClick={clear}>
          Clear filters
        </button>
      )}
    </form>
  );
}
