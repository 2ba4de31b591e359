// Shapes of the server's JSON, kept in step with docs/protocol.md.

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

export const CONVERSATION_STATUSES: readonly ConversationStatus[] = [
  "queued",
  "assigned",
  "pending",
  "solved",
  "closed",
  "cancelled",
];

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
  agent_name: string | null;
  assignee_id: number | null;
  assignee_name: string | null;
  topic_id: number | null;
  topic_name: string | null;
  ticket_link: string | null;
  created_at: string;
  queued_at: string | null;
  assigned_at: string | null;
  first_response_at: string | null;
  resolved_at: string | null;
  closed_at: string | null;
  updated_at: string;
  /** The seq of its latest message. */
  last_seq: number;
}

/** A conversation as lists show it: with its latest message and the reader's unread count. */
export interface ConversationItem extends Conversation {
  last_message?: Message | null;
  unread?: number;
}

/** A conversation with its place in the queue (1 is next), known only while queued. */
export interface ConversationDetail {
  conversation: Conversation;
  queue_position: number | null;
  /** The signed-in user's read mark; absent from a freshly created request. */
  last_read_seq?: number;
}

export interface ConversationPage {
  conversations: ConversationItem[];
  next_cursor: string | null;
}

export type MessageKind = "user" | "system";

export interface Message {
  id: number;
  conversation_id: number;
  /** One more per message within a conversation; 1 is the request's first message. */
  seq: number;
  sender_id: number | null;
  sender_name: string | null;
  kind: MessageKind;
  body: string;
  client_id: string | null;
  created_at: string;
}

export interface MessagePage {
  messages: Message[];
  has_more_before: boolean;
  has_more_after: boolean;
}

export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface SearchHit {
  message: Message;
  conversation: Conversation;
  snippet: SnippetPart[];
}

export interface SearchPage {
  hits: SearchHit[];
  next_offset: number | null;
}

export interface TransferTarget {
  id: number;
  display_name: string;
  free_slots: number;
}
