// ONNX export: exportOnnx(model) → the bytes of a .onnx file (see export.ts).
export type { OnnxExportOptions, OnnxTaskInfo } from './export.js';
export { exportOnnx, ONNX_DEFAULT_OPSET, OnnxExportError } from './export.js';
