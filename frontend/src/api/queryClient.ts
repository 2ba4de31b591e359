import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { ApiError } from "./client";
import { meKey } from "./auth";

function isSessionGone(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401 && error.code === "not_authenticated";
}

export function createQueryClient(): QueryClient {
  // A request refused for a lost session (expired, signed out in another tab)
  // marks the user as signed out, which sends the app to the sign-in page.
  const onError = (error: unknown) => {
    if (isSessionGone(error)) client.setQueryData(meKey, null);
  };
  const client: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        // Client errors will not change on retry; network and server errors may.
        retry: (failureCount, error) =>
          failureCount < 2 &&
          !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
  return client;
}
