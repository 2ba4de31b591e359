import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useContext } from "react";
import { ApiError, api } from "./client";
import type { Credentials, Role, User, UserEnvelope } from "./types";

export const meKey = ["me"] as const;

/** The signed-in user, or null when signed out. */
async function fetchMe(): Promise<User | null> {
  try {
    const { user } = await api.get<UserEnvelope>("/api/me");
    return user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export function useMe() {
  return useQuery({ queryKey: meKey, queryFn: fetchMe, staleTime: 5 * 60_000 });
}

export function useLogin() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (credentials: Credentials) =>
      (await api.post<UserEnvelope>("/api/auth/login", credentials)).user,
    onSuccess: (user) => {
      // Nothing cached may outlive a change of user.
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== meKey[0] });
      queryClient.setQueryData(meKey, user);
    },
  });
}

export function useLogout() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => api.post<null>("/api/auth/logout"),
    onSettled: () => {
      queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== meKey[0] });
      queryClient.setQueryData(meKey, null);
    },
  });
}

export const ROLE_HOME: Record<Role, string> = {
  agent: "/inbox",
  teamleader: "/workspace",
  admin: "/dashboard",
};

/** The signed-in user, provided to every page behind the sign-in guard. */
export const CurrentUserContext = createContext<User | null>(null);

export function useCurrentUser(): User {
  const user = useContext(CurrentUserContext);
  if (user === null) throw new Error("useCurrentUser is only for pages behind the sign-in guard");
  return user;
}
