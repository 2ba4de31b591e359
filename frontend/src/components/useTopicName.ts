import { useTopics } from "../api/topics";

/** A topic's name by id; archived topics are not listed for non-admins. */
export function useTopicName(): (id: number | null) => string {
  const topics = useTopics();
  return (id) => {
    if (id === null) return "No topic";
    const topic = topics.data?.find((t) => t.id === id);
    if (topic) return topic.name;
    return topics.isPending ? "…" : "Archived topic";
  };
}
