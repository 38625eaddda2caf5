// Several status vocabularies share words with different meanings: "Failed"
// is a migration phase (the migration stopped), a namespace's state (its
// workloads failed to roll out), a health check's phase (it reached its
// failureThreshold) and a MeshRevision phase. The strings written to the
// cluster stay as they are; the types keep them apart, so a namespace state
// cannot be assigned where a migration phase is expected.

declare const vocabulary: unique symbol;

/**
 * The string literal(s) `S` as words of vocabulary `V`. A plain literal (e.g.
 * read from the cluster, or written in a test) is still accepted; a word of
 * another vocabulary is not.
 */
export type Word<S extends string, V extends string> = S & { readonly [vocabulary]?: V };
