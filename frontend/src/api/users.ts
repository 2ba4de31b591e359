import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./client";
import type { Role, User } from "./types";

export const usersKey = ["users"] as const;

export function useUsers() {
  return useQuery({
    queryKey: usersKey,
    queryFn: async () => (await api.get<{ users: User[] }>("/api/users")).users,
  });
}

export interface DirectoryEntry {
  id: number;
  display_name: string;
  role: Role;
  is_active: boolean;
}

/** Names of the team, for leaders and admins (e.g. the history filters). */
export function useDirectory() {
  return useQuery({
    queryKey: [...usersKey, "directory"],
    queryFn: async () =>
      (await api.get<{ users: DirectoryEntry[] }>("/api/users/directory")).users,
    staleTime: 5 * 60_000,
  });
}

export interface NewUser {
  email: string;
  display_name: string;
  role: Role;
  password: string;
  capacity?: number;
}

export type UserChanges = Partial<Pick<User, "display_name" | "role" | "capacity">>;

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
