//go:build tools

package tools

import (
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/uptrace/bun"
	_ "github.com/uptrace/bun/dialect/pgdialect"
	_ "github.com/uptrace/bun/dialect/sqlitedialect"
	_ "github.com/uptrace/bun/driver/pgdriver"
	_ "modernc.org/sqlite"
	_ "golang.org/x/time/rate"
	_ "github.com/skip2/go-qrcode"
	_ "go.uber.org/zap"
	_ "github.com/go-playground/validator/v10"
	_ "golang.org/x/text/currency"
	_ "github.com/stretchr/testify/require"
)
