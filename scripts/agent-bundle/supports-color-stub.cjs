// `debug` (under dockerode) asks for supports-color inside a try; in a single executable that require() can only
// warn. The agent logs through pino, so colour support is simply "none".
module.exports = false;
