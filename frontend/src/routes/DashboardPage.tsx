import { Link } from "react-router";
import { usePageTitle } from "../components/usePageTitle";

export function DashboardPage() {
  usePageTitle("Dashboard");
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Dashboard</h1>
      <p className="empty">
        The live queue and every team leader's load will appear here. Meanwhile you can manage{" "}
        <Link to="/admin/users">users</Link> and <Link to="/admin/topics">topics</Link>.
      </p>
    </section>
  );
}
