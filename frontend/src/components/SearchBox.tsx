import { useEffect, useId, useState, type FormEvent } from "react";

interface Props {
  label: string;
  /** The search in effect (e.g. from the URL). */
  value: string;
  onSearch: (query: string) => void;
}

/** A search field that searches on Enter or its button; clearing it ends the search. */
export function SearchBox({ label, value, onSearch }: Props) {
  const id = useId();
  const [text, setText] = useState(value);
  // Follow the URL when it changes elsewhere (back button, a link).
  useEffect(() => setText(value), [value]);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    onSearch(text.trim());
  };

  return (
    <form role="search" className="search-box" onSubmit={submit} aria-label={label}>
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <input
        id={id}
        type="search"
        placeholder="Search…"
        value={text}
        maxLength={200}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value === "" && value !== "") onSearch("");
        }}
      />
      <button type="submit" className="button secondary">
        Search
      </button>
    </form>
  );
}
