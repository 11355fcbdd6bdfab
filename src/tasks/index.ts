// The Absolute Zero environment, over plain data and the executor interface. Nothing here knows about a
// model: completions come in as text, rewards go out as numbers.
//
// types.ts      TaskType, Role, GroupKey + groupKey(type, role), Task (program, input, output; induction:
//               message, shown and hidden IOPairs), PromptStyle ('compact' | 'reference')
// prompts.ts    proposerPrompt(type, lang, references, { style, maxBytes?, maxChars?, inductionInputs? })
//               proposerPromptShowing(...) -> { prompt, shown }: also the references that fit the budget
//               solverPrompt(task, { style }); fitReferences (greedy byte budget); fence(tag, text)
// parse.ts      parseProposal(type, lang, text, style, maxInputs) -> { ok, proposal } | { ok: false, reason }
//               parseSolution(type, lang, text, style) -> { ok, answer } | { ok: false, reason }
//               The completion grammar and every FormatError are documented at the top of the file.
// validate.ts   validateProposals(executor, items, seenKeys, { runs?, inductionInputs?, minInductionInputs?, probes?,
//               copies? }) -> per item { ok, task } | { ok: false, reason: RejectionReason, detail }; one
//               executor batch (and one more for normal forms not yet known, with copies).
//               splitPairs(pairs) -> { shown, hidden } (the deterministic induction split)
// verify.ts     verifySolutions(executor, [{ task, answer }]) -> boolean[] (one executor batch);
//               verificationBatch(items) -> { requests, verdicts(results) } to merge into a bigger batch;
//               verificationRequests + verdict for one item;
//               verifySolution for one answer
// rewards.ts    learnabilityReward(s), solverReward(correct), solverFinalReward / proposerFinalReward
//               (format-aware: -1 unparseable, -0.5 wrong or invalid; { partialCredit } and
//               { unlearnableReward } options)
// closeness.ts  textCloseness(got, want), editDistance; closenessBatch(items) -> { requests, scores(results) }
//               (how near a wrong answer came, for partial credit)
// buffer.ts     TaskBuffer.open(file, type, lang, keep?) (append-only JSONL, torn-line recovery, cut to a
//               committed size), add/addAll, size, all, has, keySet,
//               sampleWithoutReplacement(rng, items, k) to draw references from pools spanning buffers,
//               toRecords, exportTo; identityTask(type, lang); keyOf(task)
// dataset.ts    readTaskFile / writeTaskFile (the eval/README.md format), toTaskRecord / fromTaskRecord,
//               parseTaskRecord, TaskRecordSchema
// normalize.ts  normalizeProgram, normalizeInput, taskKey (deduplication keys)
// programs.ts   ProgramForms (normal forms of programs from the executor, remembered), skeletonOf (a form
//               up to its constants), distinctCount / distinctShare / recentDistinctShare / programDiversity
//               (the diversity figures)
//
// The RL side (TRR++ advantages, the policy-gradient objective and TrainBatch packing) is in src/rl.
export * from './answer-format.js';
export * from './buffer.js';
export * from './closeness.js';
export * from './dataset.js';
export * from './normalize.js';
export * from './parse.js';
export * from './programs.js';
export * from './prompts.js';
export * from './rewards.js';
export * from './types.js';
export * from './validate.js';
export * from './verify.js';
