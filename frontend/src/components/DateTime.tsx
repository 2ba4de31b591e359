const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

function sameDay(a: Date, b: Date): boolean {
  return a.toDateString() === b.toDateString();
}

/** A server timestamp as a local time, with the date unless it is today. */
export function DateTime({ value }: { value: string }) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return <>{value}</>;
  const format = sameDay(date, new Date()) ? timeFormat : dateTimeFormat;
  return (
    <time dateTime={value} title={date.toLocaleString()}>
      {format.format(date)}
    </time>
  );
}
