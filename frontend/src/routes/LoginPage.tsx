import { useState, type FormEvent } from "react";
import { useLogin } from "../api/auth";
import { FormError } from "../components/FormError";
import { usePageTitle } from "../components/usePageTitle";

export function LoginPage() {
  usePageTitle("Sign in");
  const login = useLogin();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");

  // On success the session query holds the user and /login redirects to their home.
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    login.mutate({ email: email.trim(), password });
  };

  return (
    <main className="centered">
      <form className="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <p className="brand">Team Talk</p>
        <h1 id="login-title">Sign in</h1>
        <div className="field">
          <label htmlFor="login-email">Email</label>
          <input
            id="login-email"
            type="email"
            autoComplete="username"
            required
            autoFocus
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="login-password">Password</label>
          <input
            id="login-password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </div>
        <FormError error={login.error} />
        <button
          type="submit"
          className="button primary"
          disabled={login.isPending}
          aria-busy={login.isPending}
        >
          Sign in
        </button>
      </form>
    </main>
  );
}
