export { toLinear } from './linear.ts'
export * from './sampled.ts'
export * from './ssimulacra2.ts'
export * from './types.ts'
