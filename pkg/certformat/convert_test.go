package certformat_test

import (
	"context"

	"github.com/gokeyvault/gokeyvault/pkg/certformat"
)

// convertFile is certformat.Convert with a context that never ends.
func convertFile(value, contentType string, f certformat.Format) (certformat.File, error) {
	return certformat.Convert(context.Background(), value, contentType, f)
}

// convert is convertFile's bytes.
func convert(value, contentType string, f certformat.Format) ([]byte, error) {
	file, err := convertFile(value, contentType, f)
	return file.Data, err
}
