export { TaskService } from './task-service.js';
export type { Task, TaskQuery } from './task-service.js';
