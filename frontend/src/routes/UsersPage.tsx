import { useCurrentUser } from "../api/auth";
import { useOverview } from "../api/monitoring";
import { useUsers } from "../api/users";
import { AdminTable } from "../components/AdminTable";
import { CreateUserForm } from "../components/CreateUserForm";
import { UserRow } from "../components/UserRow";
import { usePageTitle } from "../components/usePageTitle";

export function UsersPage() {
  usePageTitle("Users");
  const me = useCurrentUser();
  const users = useUsers();
  // The leaders' live status and load; monitor_changed keeps it fresh.
  const now = new Map(useOverview().data?.leaders.map((l) => [l.id, l]));

  return (
    <section aria-labelledby="page-title" className="stack">
      <h1 id="page-title">Users</h1>
      <CreateUserForm />
      <AdminTable
        what="users"
        query={users}
        columns={["Name", "Email", "Role", "Capacity", "Status", "Now"]}
        row={(user) => (
          <UserRow key={user.id} user={user} isSelf={user.id === me.id} now={now.get(user.id)} />
        )}
      />
    </section>
  );
}
