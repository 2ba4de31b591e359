import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./client";
import type { TopicList } from "./types";

export const topicsKey = ["topics"] as const;

/** Active topics; admins managing them also ask for the archived ones. */
export function useTopics({ includeArchived = false }: { includeArchived?: boolean } = {}) {
  const query = includeArchived ? "?include_archived=true" : "";
  return useQuery({
    queryKey: [...topicsKey, { includeArchived }],
    queryFn: async () => (await api.get<TopicList>(`/api/topics${query}`)).topics,
  });
}

function useTopicsMutation<V>(send: (variables: V) => Promise<unknown>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: send,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: topicsKey }),
  });
}

export function useCreateTopic() {
  return useTopicsMutation((name: string) => api.post("/api/topics", { name }));
}

export function useRenameTopic() {
  return useTopicsMutation(({ id, name }: { id: number; name: string }) =>
    api.patch(`/api/topics/${id}`, { name }),
  );
}

export function useArchiveTopic() {
  return useTopicsMutation((id: number) => api.post(`/api/topics/${id}/archive`));
}

export function useRestoreTopic() {
  return useTopicsMutation((id: number) => api.post(`/api/topics/${id}/restore`));
}
