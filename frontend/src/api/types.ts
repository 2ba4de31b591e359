// Shapes of the server's JSON, kept in step with the backend's schemas.

export type Role = "agent" | "teamleader" | "admin";

export const ROLES: readonly Role[] = ["agent", "teamleader", "admin"];

export const ROLE_LABELS: Record<Role, string> = {
  agent: "Agent",
  teamleader: "Team leader",
  admin: "Admin",
};

export interface User {
  id: number;
  email: string;
  display_name: string;
  role: Role;
  capacity: number;
  is_active: boolean;
  created_at: string;
}

export interface Topic {
  id: number;
  name: string;
  archived: boolean;
  created_at: string;
}
