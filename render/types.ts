// Plain Kubernetes objects as the renderers produce them: no Pulumi types, so they can be
// serialized, validated against CRD schemas and compared byte for byte.

export interface ObjectMeta {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
}

export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: ObjectMeta;
    [field: string]: unknown;
}
