import { useEffect, useId, useRef } from "react";

export interface Option<T extends string> {
  value: T;
  label: string;
}

interface Props<T extends string> {
  legend: string;
  /** Hide the legend visually; it stays the group's accessible name. */
  hideLegend?: boolean;
  options: readonly Option<T>[];
  /** The checked option, or undefined when none is known yet. */
  value: T | undefined;
  onChange: (value: T) => void;
  disabled?: boolean;
  busy?: boolean;
  className?: string;
}

/** A row of native radio buttons drawn as a segmented control: arrow keys move between them. */
export function Segmented<T extends string>({
  legend,
  hideLegend = false,
  options,
  value,
  onChange,
  disabled = false,
  busy = false,
  className,
}: Props<T>) {
  const name = useId();
  const group = useRef<HTMLFieldSetElement>(null);
  // Disabling the group while a choice is sent drops the keyboard focus; it is
  // given back to the checked option once the group is enabled again.
  const focusWasInside = useRef(false);
  useEffect(() => {
    if (disabled || !focusWasInside.current) return;
    focusWasInside.current = false;
    const active = document.activeElement;
    if (active === null || active === document.body) {
      group.current?.querySelector<HTMLInputElement>("input:checked")?.focus();
    }
  }, [disabled]);
  return (
    <fieldset
      ref={group}
      className={["segmented", className].filter(Boolean).join(" ")}
      disabled={disabled}
      aria-busy={busy || undefined}
    >
      <legend className={hideLegend ? "visually-hidden" : "segmented-legend"}>{legend}</legend>
      <div className="segmented-options">
        {options.map((option) => (
          <label key={option.value} className={`segmented-option option-${option.value}`}>
            <input
              type="radio"
              name={name}
              value={option.value}
              checked={value === option.value}
              onChange={() => {
                focusWasInside.current = group.current?.contains(document.activeElement) ?? false;
                onChange(option.value);
              }}
            />
            <span>{option.label}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}
