// The charts' colours (styles.css's palette; Recharts takes them as props).
export const COLORS = {
  requests: "#2453c7",
  assigned: "#7c9be3",
  solved: "#067647",
  wait: "#b54708",
  grid: "#d6dae1",
  text: "#5b6473",
} as const;
