import { useState } from "react";
import { useCanned } from "../api/canned";
import type { CannedResponse } from "../api/types";
import { AdminTable } from "../components/AdminTable";
import { CannedForm } from "../components/CannedForm";
import { CannedRow } from "../components/CannedRow";
import { usePageTitle } from "../components/usePageTitle";

/** Admins write the replies leaders insert from the composer with `/`. */
export function CannedPage() {
  usePageTitle("Canned responses");
  const canned = useCanned();
  const [editing, setEditing] = useState<CannedResponse | null>(null);

  return (
    <section aria-labelledby="page-title" className="stack">
      <h1 id="page-title">Canned responses</h1>
      <p className="muted">
        Team leaders insert these in a conversation by typing / in the message box. One with a topic
        is offered first in that topic&apos;s conversations.
      </p>
      <CannedForm key={editing?.id ?? "new"} editing={editing} onDone={() => setEditing(null)} />
      <AdminTable
        what="canned responses"
        query={canned}
        columns={["Title", "Topic", "Text", "Updated"]}
        row={(item) => (
          <CannedRow
            key={item.id}
            canned={item}
            onEdit={() => setEditing(item)}
            onDeleted={() => editing?.id === item.id && setEditing(null)}
          />
        )}
      />
    </section>
  );
}
