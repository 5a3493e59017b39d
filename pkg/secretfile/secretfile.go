// Package secretfile writes the files SecretsToFiles asks for (which
// secret goes to which file is pkg/selection's).
//
// Files are written only under the agent's temp directory, which the agent
// empties after every job, in a directory of the run's own that only the
// agent's user can open, under names made of the secret's name alone; a
// file is created, never opened if it exists, and never through a link.
package secretfile
