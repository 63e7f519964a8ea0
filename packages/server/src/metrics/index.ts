export { ServerMetrics, type ServerMetricsOptions } from './server-metrics.js';
export { CustomMetrics, CUSTOM_METRIC_PREFIX, DEFAULT_CUSTOM_METRIC_LIMITS, type CustomMetricLimits } from './custom-metrics.js';
export { metricsApi } from './route.js';
