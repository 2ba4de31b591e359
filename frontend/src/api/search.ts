import { useInfiniteQuery } from "@tanstack/react-query";
import { api } from "./client";
import { filterParams, type ListFilter } from "./conversations";
import type { SearchPage } from "./types";

export const searchKey = ["search"] as const;

const PAGE_SIZE = 20;

/** Messages matching every word of `q` (agents: only in their own conversations). */
export function useSearch(q: string, filter: ListFilter) {
  return useInfiniteQuery({
    queryKey: [...searchKey, q, filter],
    queryFn: ({ pageParam }) => {
      const params = filterParams(filter, new URLSearchParams({ q, limit: String(PAGE_SIZE) }));
      if (pageParam > 0) params.set("offset", String(pageParam));
      return api.get<SearchPage>(`/api/search?${params.toString()}`);
    },
    initialPageParam: 0,
    getNextPageParam: (last) => last.next_offset ?? undefined,
    enabled: q.trim() !== "",
  });
}
