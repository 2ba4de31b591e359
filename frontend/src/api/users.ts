import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./client";
import type { Directory, NewUser, UserChanges, UserList } from "./types";

export const usersKey = ["users"] as const;

export function useUsers() {
  return useQuery({
    queryKey: usersKey,
    queryFn: async () => (await api.get<UserList>("/api/users")).users,
  });
}

/** Names of the team, for leaders and admins (e.g. the history filters). */
export function useDirectory() {
  return useQuery({
    queryKey: [...usersKey, "directory"],
    queryFn: async () => (await api.get<Directory>("/api/users/directory")).users,
    staleTime: 5 * 60_000,
  });
}

function useUsersMutation<V>(send: (variables: V) => Promise<unknown>) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: send,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: usersKey }),
  });
}

export function useCreateUser() {
  return useUsersMutation((user: NewUser) => api.post("/api/users", user));
}

export function useUpdateUser() {
  return useUsersMutation(({ id, changes }: { id: number; changes: UserChanges }) =>
    api.patch(`/api/users/${id}`, changes),
  );
}

export function useDeactivateUser() {
  return useUsersMutation((id: number) => api.post(`/api/users/${id}/deactivate`));
}

export function useReactivateUser() {
  return useUsersMutation((id: number) => api.post(`/api/users/${id}/reactivate`));
}
