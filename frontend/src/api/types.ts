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

export type ConversationStatus =
  | "queued"
  | "assigned"
  | "pending"
  | "solved"
  | "closed"
  | "cancelled";

/** How a conversation's state is named in the UI. */
export const CONVERSATION_STATUS_LABELS: Record<ConversationStatus, string> = {
  queued: "Waiting",
  assigned: "With a team leader",
  pending: "Pending",
  solved: "Solved",
  closed: "Closed",
  cancelled: "Withdrawn",
};

export interface Conversation {
  id: number;
  status: ConversationStatus;
  agent_id: number;
  assignee_id: number | null;
  topic_id: number | null;
  ticket_link: string | null;
  created_at: string;
  queued_at: string | null;
  assigned_at: string | null;
  resolved_at: string | null;
  closed_at: string | null;
  updated_at: string;
  last_seq: number;
}

/** A conversation with its place in the queue (1 is next), known only while queued. */
export interface ConversationDetail {
  conversation: Conversation;
  queue_position: number | null;
}

export interface ConversationPage {
  conversations: Conversation[];
  next_before: number | null;
}
