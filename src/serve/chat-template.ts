// The chat template `azr serve` applies for /v1/chat/completions: the think-then-answer transcript of the
// reference prompts (src/tasks/prompts.ts), so that a reference prompt sent as messages by the OpenAI
// policy (system = the frame's preamble, user = the task; see toChatMessages) renders back to exactly the
// text the completions endpoint would get:
//
//   {system}\n\n                      each system (or developer) message, in order
//   User: {content}\n\n               each user message
//   Assistant: {content}\n\n          each earlier assistant message
//   Assistant: <think>                where generation starts
//
// A conversation that ends with an assistant message is continued instead: its text is the start of the
// reply (`Assistant: {content}` with no separator after it), the usual "prefill".
import type { ChatMessageBody } from './schemas.js';

export const GENERATION_PREFIX = 'Assistant: <think>';

export function renderChat(messages: readonly ChatMessageBody[]): string {
  const last = messages[messages.length - 1];
  const prefill = last?.role === 'assistant';
  const turns = prefill ? messages.slice(0, -1) : messages;
  let out = '';
  for (const m of turns) {
    if (m.role === 'system' || m.role === 'developer') out += `${m.content}\n\n`;
    else if (m.role === 'user') out += `User: ${m.content}\n\n`;
    else out += `Assistant: ${m.content}\n\n`;
  }
  return prefill ? `${out}Assistant: ${last.content}` : `${out}${GENERATION_PREFIX}`;
}
