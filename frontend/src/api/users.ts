import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "./client";
import type { Role, User } from "./types";

export const usersKey = ["users"] as const;

export function useUsers({ enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: usersKey,
    enabled,
    queryFn: async () => (await api.get<{ users: User[] }>("/api/users")).users,
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
