import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./client";
import type { CannedDraft, CannedList } from "./types";

export const cannedKey = ["canned"] as const;

/** Leaders' list changes only when an admin edits it: no need to refetch it on every open. */
const STALE_MS = 60_000;

/** All of them by title; with `topicId`, that topic's first and then the general ones. */
export function useCanned({
  topicId = null,
  enabled = true,
}: { topicId?: number | null; enabled?: boolean } = {}) {
  const query = topicId === null ? "" : `?topic_id=${topicId}`;
  return useQuery({
    queryKey: [...cannedKey, { topicId }],
    queryFn: async () => (await api.get<CannedList>(`/api/canned${query}`)).canned_responses,
    staleTime: STALE_MS,
    enabled,
  });
}

function useCannedMutation<V>(send: (variables: V) => Promise<unknown>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: send,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: cannedKey }),
  });
}

export function useCreateCanned() {
  return useCannedMutation((draft: CannedDraft) => api.post("/api/canned", draft));
}

export function useUpdateCanned() {
  return useCannedMutation(({ id, draft }: { id: number; draft: CannedDraft }) =>
    api.put(`/api/canned/${id}`, draft),
  );
}

export function useDeleteCanned() {
  return useCannedMutation((id: number) => api.delete(`/api/canned/${id}`));
}
