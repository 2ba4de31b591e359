import { useState, type ReactNode } from "react";
import { NavLink } from "react-router";
import { CurrentUserContext, useLogout } from "../api/auth";
import { useHeldCount } from "../api/conversations";
import { ROLE_LABELS, type Role, type User } from "../api/types";
import { ConfirmDialog } from "./ConfirmDialog";
import { clearDrafts } from "./drafts";
import { goesBack } from "./held";
import { OfflineNotice } from "./OfflineNotice";
import { ReconnectingBanner } from "./ReconnectingBanner";
import { useLeavePrompt } from "./useLeavePrompt";
import { useMessageAlerts } from "./useMessageAlerts";

interface NavItem {
  to: string;
  label: string;
}

const NAV: Record<Role, NavItem[]> = {
  agent: [{ to: "/inbox", label: "Inbox" }],
  teamleader: [
    { to: "/workspace", label: "Workspace" },
    { to: "/history", label: "History" },
  ],
  admin: [
    { to: "/dashboard", label: "Dashboard" },
    { to: "/reports", label: "Reports" },
    { to: "/history", label: "History" },
    { to: "/admin/users", label: "Users" },
    { to: "/admin/topics", label: "Topics" },
    { to: "/admin/canned", label: "Canned responses" },
  ],
};

interface Props {
  user: User;
  children: ReactNode;
}

export function AppShell({ user, children }: Props) {
  const logout = useLogout();
  const held = useHeldCount(user.role === "teamleader");
  const [asking, setAsking] = useState(false);
  useLeavePrompt(held > 0);
  const signOut = () => logout.mutate(undefined, { onSettled: clearDrafts });
  return (
    <CurrentUserContext.Provider value={user}>
      <MessageAlerts />
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <NavLink to="/" className="brand">
          Team Talk
        </NavLink>
        <nav aria-label="Main" className="app-nav">
          <ul>
            {NAV[user.role].map((item) => (
              <li key={item.to}>
                <NavLink to={item.to}>{item.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <span className="account-name">{user.display_name}</span>
          <span className="role-badge">{ROLE_LABELS[user.role]}</span>
          <button
            type="button"
            className="button secondary"
            onClick={() => (held > 0 ? setAsking(true) : signOut())}
            disabled={logout.isPending}
          >
            Sign out
          </button>
          <ConfirmDialog
            open={asking}
            title="Sign out?"
            confirm="Sign out"
            onConfirm={() => {
              setAsking(false);
              signOut();
            }}
            onCancel={() => setAsking(false)}
          >
            <p>
              {goesBack(held)} to the queue unless you sign in again within the grace period
              (a minute by default).
            </p>
          </ConfirmDialog>
        </div>
      </header>
      <ReconnectingBanner />
      {user.role === "teamleader" && <OfflineNotice />}
      <main id="main" className="app-main" tabIndex={-1}>
        {children}
      </main>
    </CurrentUserContext.Provider>
  );
}

/** Inside the user's context, which the alerts need. */
function MessageAlerts() {
  useMessageAlerts();
  return null;
}
