// The server's JSON under the names the UI uses. Every shape comes from openapi.gen.ts,
// which scripts/contract generates from the server's OpenAPI document; only the UI's own
// words for the server's values are written here.

import type * as Api from "./openapi.gen";

export type Role = Api.Role;

export const ROLE_LABELS: Record<Role, string> = {
  agent: "Agent",
  teamleader: "Team leader",
  admin: "Admin",
};

/** In the order the UI offers them. */
export const ROLES = Object.keys(ROLE_LABELS) as readonly Role[];

export type User = Api.UserOut;
export type UserEnvelope = Api.UserEnvelope;
export type UserList = Api.UserList;
export type Directory = Api.Directory;
export type DirectoryEntry = Api.DirectoryEntry;
export type NewUser = Api.UserCreate;
export type UserChanges = Api.UserUpdate;
export type Credentials = Api.LoginIn;

export type Topic = Api.TopicOut;
export type TopicList = Api.TopicList;

export type ConversationStatus = Api.Status;

/** How a conversation's state is named in the UI. */
export const CONVERSATION_STATUS_LABELS: Record<ConversationStatus, string> = {
  queued: "Waiting",
  assigned: "With a team leader",
  pending: "Pending",
  solved: "Solved",
  closed: "Closed",
  cancelled: "Withdrawn",
};

export const CONVERSATION_STATUSES = Object.keys(
  CONVERSATION_STATUS_LABELS,
) as readonly ConversationStatus[];

/** `last_seq` is the seq of its latest message. */
export type Conversation = Api.ConversationOut;
/** A conversation as lists show it: with its latest message and the reader's unread count. */
export type ConversationItem = Api.ConversationItem;
/** A conversation with its place in the queue (1 is next), known only while queued. */
export type ConversationDetail = Api.ConversationDetail;
/** Where a queued request stands: its place, the leaders online, an expected wait. */
export type QueueStanding = Api.QueueStanding;
/** A new request's answer: like a detail, without the read mark. */
export type ConversationCreated = Api.ConversationCreated;
export type ConversationEnvelope = Api.ConversationEnvelope;
export type ConversationPage = Api.ConversationPage;
export type NewRequest = Api.ConversationCreate;

/** `seq` is one more per message within a conversation; 1 is the request's first message. */
export type Message = Api.MessageOut;
export type MessageEnvelope = Api.MessageEnvelope;
export type MessagePage = Api.MessagePage;
export type ReadOut = Api.ReadOut;

export type SnippetPart = Api.SnippetPart;
export type SearchHit = Api.SearchHit;
export type SearchPage = Api.SearchPage;

export type TransferTarget = Api.TransferTarget;
export type TransferTargets = Api.TransferTargets;

export type CannedResponse = Api.CannedOut;
export type CannedList = Api.CannedList;
export type CannedDraft = Api.CannedIn;
