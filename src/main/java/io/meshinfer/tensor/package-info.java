/**
 * Immutable tensors held as primitive arrays ({@link io.meshinfer.tensor.Tensor}) and their
 * element types. No dependencies on anything else in meshinfer.
 */
package io.meshinfer.tensor;
