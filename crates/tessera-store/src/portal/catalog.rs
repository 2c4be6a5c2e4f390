//! The catalog: the vendor's products (each licenses one or more product ids in a pool)
//! and their volume license options by validity period, with prices in minor units.
//! It is seeded from the portal's configuration at every start; an option that left the
//! configuration is hidden, not deleted, since orders name it.

use sqlx::Row;

use super::{count, json_list, to_json};
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The product ids its pools cover (`["autocad", "revit"]` for all at once).
    pub licensed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseOptionRecord {
    pub id: String,
    pub product_id: String,
    /// The validity period as shown ("1 year").
    pub name: String,
    pub months: u32,
    /// Net price of one user for the whole period, in minor units.
    pub price_minor: i64,
    pub currency: String,
    pub borrow_max_hours: u32,
}

/// A product with its options, in catalog order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProduct {
    pub product: ProductRecord,
    pub options: Vec<LicenseOptionRecord>,
}

fn product_from_row(row: &sqlx::any::AnyRow) -> Result<ProductRecord, StoreError> {
    Ok(ProductRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        licensed: json_list(&row.try_get::<String, _>("licensed")?, "product licensed")?,
    })
}

fn option_from_row(row: &sqlx::any::AnyRow) -> Result<LicenseOptionRecord, StoreError> {
    Ok(LicenseOptionRecord {
        id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        name: row.try_get("name")?,
        months: count(row.try_get("months")?),
        price_minor: row.try_get("price_minor")?,
        currency: row.try_get("currency")?,
        borrow_max_hours: count(row.try_get("borrow_max_hours")?),
    })
}

impl Store {
    /// Makes the catalog what `products` says: new and changed entries are written, the
    /// others hidden. One transaction, so that visitors never see half a catalog.
    pub async fn sync_catalog(&self, products: &[CatalogProduct]) -> Result<(), StoreError> {
        let mut tx = self.portal_write_tx().await?;
        sqlx::query("UPDATE products SET active = 0")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE license_options SET active = 0")
            .execute(&mut *tx)
            .await?;
        for (pi, p) in products.iter().enumerate() {
            sqlx::query(
                "INSERT INTO products (id, name, description, licensed, position, active) \
                 VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 description = excluded.description, licensed = excluded.licensed, \
                 position = excluded.position, active = 1",
            )
            .bind(&p.product.id)
            .bind(&p.product.name)
            .bind(&p.product.description)
            .bind(to_json(&p.product.licensed))
            .bind(pi as i64)
            .execute(&mut *tx)
            .await?;
            for (oi, o) in p.options.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO license_options (id, product_id, name, months, price_minor, currency, \
                     borrow_max_hours, position, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1) \
                     ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, name = excluded.name, \
                     months = excluded.months, price_minor = excluded.price_minor, \
                     currency = excluded.currency, borrow_max_hours = excluded.borrow_max_hours, \
                     position = excluded.position, active = 1",
                )
                .bind(&o.id)
                .bind(&p.product.id)
                .bind(&o.name)
                .bind(i64::from(o.months))
                .bind(o.price_minor)
                .bind(&o.currency)
                .bind(i64::from(o.borrow_max_hours))
                .bind(oi as i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The products on sale with their options, in catalog order.
    pub async fn catalog(&self) -> Result<Vec<CatalogProduct>, StoreError> {
        let products = sqlx::query("SELECT * FROM products WHERE active = 1 ORDER BY position, id")
            .fetch_all(&self.db)
            .await?;
        let options = sqlx::query(
            "SELECT * FROM license_options WHERE active = 1 ORDER BY product_id, position, id",
        )
        .fetch_all(&self.db)
        .await?;
        let options = options
            .iter()
            .map(option_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        products
            .iter()
            .map(|row| {
                let product = product_from_row(row)?;
                let options = options
                    .iter()
                    .filter(|o| o.product_id == product.id)
                    .cloned()
                    .collect();
                Ok(CatalogProduct { product, options })
            })
            .collect()
    }

    /// A license option on sale, with its product.
    pub async fn license_option(
        &self,
        option_id: &str,
    ) -> Result<Option<(ProductRecord, LicenseOptionRecord)>, StoreError> {
        let row = sqlx::query("SELECT * FROM license_options WHERE id = $1 AND active = 1")
            .bind(option_id)
            .fetch_optional(&self.db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let option = option_from_row(&row)?;
        let product = sqlx::query("SELECT * FROM products WHERE id = $1 AND active = 1")
            .bind(&option.product_id)
            .fetch_optional(&self.db)
            .await?;
        product
            .as_ref()
            .map(|p| Ok((product_from_row(p)?, option)))
            .transpose()
    }
}
