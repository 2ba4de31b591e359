import { useCurrentUser } from "../api/auth";
import { useUsers } from "../api/users";
import { CreateUserForm } from "../components/CreateUserForm";
import { LoadError } from "../components/LoadError";
import { UserRow } from "../components/UserRow";
import { usePageTitle } from "../components/usePageTitle";

export function UsersPage() {
  usePageTitle("Users");
  const me = useCurrentUser();
  const users = useUsers();

  return (
    <section aria-labelledby="page-title" className="stack">
      <h1 id="page-title">Users</h1>
      <CreateUserForm />
      {users.isPending && <p className="muted">Loading users…</p>}
      {users.isError && (
        <LoadError what="users" error={users.error} onRetry={() => void users.refetch()} />
      )}
      {users.data && (
        <div className="table-wrap">
          <table aria-label="Users">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Capacity</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.map((user) => (
                <UserRow key={user.id} user={user} isSelf={user.id === me.id} />
              ))}
            </tbody>
          </table>
          {users.data.length === 0 && <p className="empty">No users yet.</p>}
        </div>
      )}
    </section>
  );
}
