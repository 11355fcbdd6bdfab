// The RL side of Absolute Zero, over plain numbers and token ids:
//   trrAdvantages(scored, { eps?, unbiased? })  Task-Relative REINFORCE++ advantages, one baseline per group
//   groupStats                                  count, mean and std of each group's rewards
//   packTrainBatch(sequences, time, padId)      sequences -> the engine's TrainBatch (weights, advantages)
export * from './objective.js';
export * from './trrpp.js';
