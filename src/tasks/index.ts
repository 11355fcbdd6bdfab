// The Absolute Zero environment, over plain data and the executor interface:
//   proposerPrompt / solverPrompt      prompts in 'compact' or 'reference' style
//   parseProposal / parseSolution      strict completion parsing, with counted format errors
//   validateProposals                  proposals -> verified tasks or rejection reasons (one executor batch)
//   verifySolutions                    solver answers -> right/wrong (one executor batch)
//   learnabilityReward, proposerFinalReward, solverFinalReward
//   TaskBuffer, identityTask           per-type buffers on disk, seeded with the identity program
//   readTaskFile / writeTaskFile       the task JSONL format of eval/README.md
export * from './buffer.js';
export * from './dataset.js';
export * from './normalize.js';
export * from './parse.js';
export * from './prompts.js';
export * from './rewards.js';
export * from './types.js';
export * from './validate.js';
export * from './verify.js';
