import { Navigate, Outlet, Route, Routes } from "react-router";
import { ROLE_HOME, useCurrentUser, useMe } from "./api/auth";
import type { Role, User } from "./api/types";
import { AppShell } from "./components/AppShell";
import { CannedPage } from "./routes/CannedPage";
import { LoadError } from "./components/LoadError";
import { RealtimeProvider } from "./realtime/RealtimeProvider";
import { ConversationPage } from "./routes/ConversationPage";
import { DashboardPage } from "./routes/DashboardPage";
import { HistoryPage } from "./routes/HistoryPage";
import { InboxPage } from "./routes/InboxPage";
import { LoginPage } from "./routes/LoginPage";
import { NotFoundPage } from "./routes/NotFoundPage";
import { LazyReportsPage } from "./routes/LazyReportsPage";
import { TopicsPage } from "./routes/TopicsPage";
import { UsersPage } from "./routes/UsersPage";
import { WorkspacePage } from "./routes/WorkspacePage";

export function App() {
  const me = useMe();

  // Keep showing the app if a background refresh of the session fails.
  if (me.data === undefined) {
    if (me.isError) {
      return (
        <main className="centered">
          <LoadError what="your session" error={me.error} onRetry={() => void me.refetch()} />
        </main>
      );
    }
    return (
      <main className="centered" aria-busy="true">
        <p className="muted">Loading Team Talk…</p>
      </main>
    );
  }

  const user = me.data;
  return (
    <RealtimeProvider userId={user?.id ?? null}>
      <Routes>
        {/* Signing in updates the session query, and this redirect takes over. */}
        <Route
          path="/login"
          element={user ? <Navigate to={ROLE_HOME[user.role]} replace /> : <LoginPage />}
        />
        <Route element={<SignedIn user={user} />}>
          <Route index element={<RoleHome />} />
          <Route element={<ForRoles roles={["agent"]} />}>
            <Route path="/inbox/:conversationId?" element={<InboxPage />} />
          </Route>
          <Route element={<ForRoles roles={["teamleader"]} />}>
            <Route path="/workspace/:conversationId?" element={<WorkspacePage />} />
          </Route>
          <Route path="/conversations/:conversationId" element={<ConversationPage />} />
          <Route element={<ForRoles roles={["teamleader", "admin"]} />}>
            <Route path="/history" element={<HistoryPage />} />
          </Route>
          <Route element={<ForRoles roles={["admin"]} />}>
            <Route path="/dashboard" element={<DashboardPage />} />
            <Route path="/reports" element={<LazyReportsPage />} />
            <Route path="/admin/users" element={<UsersPage />} />
            <Route path="/admin/topics" element={<TopicsPage />} />
            <Route path="/admin/canned" element={<CannedPage />} />
          </Route>
        </Route>
        <Route
          path="*"
          element={
            user ? (
              <AppShell user={user}>
                <NotFoundPage signedIn />
              </AppShell>
            ) : (
              <NotFoundPage signedIn={false} />
            )
          }
        />
      </Routes>
    </RealtimeProvider>
  );
}

function SignedIn({ user }: { user: User | null }) {
  if (user === null) return <Navigate to="/login" replace />;
  return (
    <AppShell user={user}>
      <Outlet />
    </AppShell>
  );
}

function RoleHome() {
  return <Navigate to={ROLE_HOME[useCurrentUser().role]} replace />;
}

/** Sends a user who opens another role's page to their own home. */
function ForRoles({ roles }: { roles: readonly Role[] }) {
  const user = useCurrentUser();
  if (!roles.includes(user.role)) return <Navigate to={ROLE_HOME[user.role]} replace />;
  return <Outlet />;
}
