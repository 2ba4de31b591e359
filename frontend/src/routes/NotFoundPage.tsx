import { Link, useLocation } from "react-router";
import { usePageTitle } from "../components/usePageTitle";

export function NotFoundPage({ signedIn }: { signedIn: boolean }) {
  usePageTitle("Not found");
  const { pathname } = useLocation();
  const body = (
    <section aria-labelledby="page-title" className={signedIn ? undefined : "card"}>
      <h1 id="page-title">Not found</h1>
      <p>
        There is no page at <code>{pathname}</code>.
      </p>
      <p>
        <Link to={signedIn ? "/" : "/login"}>
          {signedIn ? "Go to your home page" : "Go to sign in"}
        </Link>
      </p>
    </section>
  );
  // Signed in, the page sits inside the app shell, which has the <main>.
  return signedIn ? body : <main className="centered">{body}</main>;
}
