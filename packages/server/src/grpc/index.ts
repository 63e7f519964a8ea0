export { createGrpcInferenceServer, GRPC_LIMITS, type GrpcInferenceServer } from './server.js';
export { GRPC_STATUS_FOR_HTTP, grpcStatusFor, toGrpcFailure, ERROR_TYPE_KEY } from './status.js';
export { PROTO_FILE, SERVICE_NAME, protoPath } from './proto.js';
