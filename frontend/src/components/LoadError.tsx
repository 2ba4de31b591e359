import { errorMessage } from "../api/client";

interface Props {
  /** What failed to load, e.g. "users". */
  what: string;
  error: unknown;
  onRetry: () => void;
}

export function LoadError({ what, error, onRetry }: Props) {
  return (
    <div role="alert" className="alert">
      <p>
        Could not load {what}: {errorMessage(error)}
      </p>
      <button type="button" className="button secondary" onClick={onRetry}>
        Try again
      </button>
    </div>
  );
}
