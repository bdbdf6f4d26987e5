import { z } from 'zod';

/** Which container (on which node) a Docker-discovered route comes from. */
export const dockerSourceSchema = z.object({
  /** The node whose agent found the container; null is the controller's local node (as in Route.nodeId). */
  nodeId: z.string().nullable(),
  nodeName: z.string(),
  containerId: z.string(),
  containerName: z.string(),
  /** Docker's state of the container when it was last seen (running, …). */
  state: z.string(),
  /** The discovering node is offline past the threshold: the container may have changed meanwhile. */
  stale: z.boolean(),
});
export type DockerSource = z.infer<typeof dockerSourceSchema>;
