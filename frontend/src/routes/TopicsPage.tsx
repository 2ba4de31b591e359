import { useState, type FormEvent } from "react";
import { useCreateTopic, useTopics } from "../api/topics";
import { AdminTable } from "../components/AdminTable";
import { Field } from "../components/Field";
import { FormError, errorFor } from "../components/FormError";
import { TopicRow } from "../components/TopicRow";
import { usePageTitle } from "../components/usePageTitle";

export function TopicsPage() {
  usePageTitle("Topics");
  const topics = useTopics({ includeArchived: true });

  return (
    <section aria-labelledby="page-title" className="stack">
      <h1 id="page-title">Topics</h1>
      <CreateTopicForm />
      <AdminTable
        what="topics"
        query={topics}
        columns={["Name", "Status", "Created"]}
        row={(topic) => <TopicRow key={topic.id} topic={topic} />}
      />
    </section>
  );
}

function CreateTopicForm() {
  const create = useCreateTopic();
  const [name, setName] = useState("");

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    create.mutate(name.trim(), { onSuccess: () => setName("") });
  };

  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="new-topic-title">
      <h2 id="new-topic-title">New topic</h2>
      <Field label="Name" error={errorFor(create.error, "name")}>
        {(control) => (
          <input
            {...control}
            required
            autoComplete="off"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        )}
      </Field>
      <button
        type="submit"
        className="button primary"
        disabled={create.isPending}
        aria-busy={create.isPending}
      >
        Add topic
      </button>
      <FormError error={create.error} shownFields={["name"]} />
    </form>
  );
}
