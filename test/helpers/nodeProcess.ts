/** The tests use the load tools' helper (loadtest/ ships without the test tree, so it lives there). */
export * from '../../loadtest/core/nodeProcess';
