// The oracle: a Policy that knows the benchmark's answers. It is built from the problems themselves, so it
// recognises a prompt by the exact text the evaluation would send (the solver prompt of each problem's
// deduction and abduction task) and answers with the gold output or the gold input, in the answer format
// of the prompt style. Run through the whole evaluation (prompt, parse, executor verification) it must
// score 1.0 on both metrics: an end-to-end check of the scoring. A prompt it does not know is an error,
// never a silent wrong answer.
import type { Completion, GenerateRequest, Policy } from '../policy/types.js';
import { type PromptStyle, solverPrompt } from '../tasks/index.js';
import { type CruxProblem, inputTask, outputTask } from './cruxeval.js';

/** A completion holding `answer` in the answer format of `style` (see src/tasks/parse.ts). */
export function answerCompletion(answer: string, style: PromptStyle): string {
  return style === 'compact'
    ? `${answer}</answer>`
    : `The answer is known.</think> <answer>${answer}</answer>`;
}

export function createOraclePolicy(problems: readonly CruxProblem[], style: PromptStyle): Policy {
  const answers = new Map<string, string>();
  for (const p of problems) {
    answers.set(solverPrompt(outputTask(p), { style }), p.output);
    answers.set(solverPrompt(inputTask(p), { style }), p.input);
  }
  return {
    async generate(requests: readonly GenerateRequest[]): Promise<Completion[][]> {
      return requests.map((r) => {
        const answer = answers.get(r.prompt);
        if (answer === undefined)
          throw new Error(
            `the oracle does not know this prompt: ${JSON.stringify(r.prompt.slice(0, 120))}...`,
          );
        return Array.from({ length: r.n }, () => ({
          text: answerCompletion(answer, style),
          finishReason: 'stop' as const,
        }));
      });
    },
    close: async () => {},
  };
}
