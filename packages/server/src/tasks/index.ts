export { TaskService } from './task-service.js';
export type { Task, TaskQuery } from './task-service.js';
export { spawnTree } from './spawn-tree.js';
export type { SpawnNode, SpawnTree } from './spawn-tree.js';
