// The error ztauthz writes to stderr when it cannot go on (bad arguments or
// configuration, a port taken, a worker that will not start): one line, as
// Kubernetes shows a container's last words, with line breaks in the message
// turned into " | ". The CLI and the --workers primary both write it.
export function writeErrorLine(message: string): void {
  process.stderr.write(`ztauthz: ${message.replace(/\s*\n\s*/g, ' | ')}\n`);
}
