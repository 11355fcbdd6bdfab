#!/usr/bin/env node
// Entry point of the `azr` command. Each subcommand lives in its own module and is loaded on demand,
// so `azr exec` does not pay for loading the model engine.
const usage = `usage: azr <command> [options]

commands:
  train       run Absolute Zero self-play on the built-in model
  pretrain    next-token training of the built-in model on a corpus of source files
  eval        held-out accuracy of a checkpoint, per task type and difficulty
              (eval --bench cruxeval: CRUXEval-O/-I with the built-in model or a server)
  tasks       browse or export the verified tasks of a run
  exec        run one program on one input in the sandbox
  verify      check answers to tasks as the self-play loop would (one JSONL case a line)
  plot        draw a run's curves into a PNG
  dashboard   serve a live web page of a run's metrics and recent tasks
  serve       serve a checkpoint over an OpenAI-compatible HTTP API
  generate    propose and verify a task dataset with a model behind an OpenAI-compatible server
  pull        fetch a pretrained model (SmolLM2, Qwen2.5-Coder) into the models folder
  (azr <command> --help for options)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train':
      return (await import('./train.js')).trainCommand(rest);
    case 'pretrain':
      return (await import('./pretrain.js')).pretrainCommand(rest);
    case 'eval':
      // A benchmark has its own policies and flags; the plain form scores a checkpoint on held-out tasks.
      if (rest.some((a) => a === '--bench' || a.startsWith('--bench=')))
        return (await import('./cruxeval.js')).cruxevalCommand(rest);
      return (await import('./eval.js')).evalCommand(rest);
    case 'tasks':
      return (await import('./tasks.js')).tasksCommand(rest);
    case 'exec':
      return (await import('./exec.js')).execCommand(rest);
    case 'verify':
      return (await import('./verify.js')).verifyCommand(rest);
    case 'plot':
      return (await import('./plot.js')).plotCommand(rest);
    case 'dashboard':
      return (await import('./dashboard.js')).dashboardCommand(rest);
    case 'serve':
      return (await import('./serve.js')).serveCommand(rest);
    case 'generate':
      return (await import('./generate.js')).generateCommand(rest);
    case 'pull':
      return (await import('./pull.js')).pullCommand(rest);
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`azr: unknown command '${command}'\n${usage}`);
      return 2;
  }
}

// `azr tasks RUN | head` closes our stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`azr: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
