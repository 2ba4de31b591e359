const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** A server timestamp shown as a local date, with the exact time on hover. */
export function DateOnly({ value }: { value: string }) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return <>{value}</>;
  return (
    <time dateTime={value} title={date.toLocaleString()}>
      {dateFormat.format(date)}
    </time>
  );
}
