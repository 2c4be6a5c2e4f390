//! Accounts: a user (an e-mail, unique whatever its case, with an argon2id password hash
//! and a role) belongs to one organization, a customer's company, which keeps the
//! details entered with "Add company info" and a slug for its URLs. Organizations are
//! kept apart from users so that later they can have several people in several roles.

use sqlx::Row;
use tessera_core::Millis;

use super::Tx;
use crate::{Store, StoreError};

/// What a user may do in the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    /// The vendor's staff: the back office.
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "customer" => Some(Role::Customer),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub organization_id: String,
    pub confirmed_at: Option<Millis>,
    pub created_at: Millis,
}

/// A company's details as "Add company info" keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompanyInfo {
    pub name: String,
    pub address: Vec<String>,
    pub tax_id: String,
    pub billing_email: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub address: Vec<String>,
    pub tax_id: String,
    pub billing_email: String,
    /// Whether "Add company info" was filled in (so checkout needs no re-entry).
    pub company_saved: bool,
    pub created_at: Millis,
}

impl OrganizationRecord {
    pub fn company(&self) -> CompanyInfo {
        CompanyInfo {
            name: self.name.clone(),
            address: self.address.clone(),
            tax_id: self.tax_id.clone(),
            billing_email: self.billing_email.clone(),
        }
    }
}

/// A new account: its user and the organization made for it.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub organization_name: &'a str,
    /// The wished slug; a number is added when it is taken.
    pub slug: &'a str,
    /// Set for accounts made already confirmed (the demo's).
    pub confirmed_at: Option<Millis>,
}

pub(crate) fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

pub(crate) fn join_lines(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn split_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

const USER_COLUMNS: &str =
    "id, email, password_hash, role, organization_id, confirmed_at, created_at";
const ORG_COLUMNS: &str =
    "id, slug, name, address, tax_id, billing_email, company_saved, created_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role `{role}`")))?,
        organization_id: row.try_get("organization_id")?,
        confirmed_at: row.try_get("confirmed_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn org_from_row(row: &sqlx::any::AnyRow) -> Result<OrganizationRecord, StoreError> {
    Ok(OrganizationRecord {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        address: split_lines(&row.try_get::<String, _>("address")?),
        tax_id: row.try_get("tax_id")?,
        billing_email: row.try_get("billing_email")?,
        company_saved: row.try_get::<i64, _>("company_saved")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

async fn insert_organization(
    tx: &mut Tx<'_>,
    name: &str,
    slug: &str,
    now: Millis,
) -> Result<OrganizationRecord, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let base = if slug.is_empty() { "org" } else { slug };
    for n in 1..1000u32 {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}-{n}")
        };
        let done = sqlx::query(
            "INSERT INTO organizations (id, slug, name, address, tax_id, billing_email, company_saved, created_at) \
             VALUES ($1, $2, $3, '', '', '', 0, $4) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(&id)
        .bind(&candidate)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(OrganizationRecord {
                id,
                slug: candidate,
                name: name.to_owned(),
                address: Vec::new(),
                tax_id: String::new(),
                billing_email: String::new(),
                company_saved: false,
                created_at: now,
            });
        }
    }
    Err(StoreError::Corrupt(format!(
        "no free organization slug like `{base}`"
    )))
}

impl Store {
    /// Creates a user with a new organization; `None` when the e-mail is taken (in any case).
    pub async fn create_account(
        &self,
        new: &NewAccount<'_>,
        now: Millis,
    ) -> Result<Option<(UserRecord, OrganizationRecord)>, StoreError> {
        let mut tx = self.portal_write_tx().await?;
        let org = insert_organization(&mut tx, new.organization_name, new.slug, now).await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let done = sqlx::query(
            "INSERT INTO users (id, email, email_key, password_hash, role, organization_id, confirmed_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email_key) DO NOTHING",
        )
        .bind(&id)
        .bind(new.email.trim())
        .bind(email_key(new.email))
        .bind(new.password_hash)
        .bind(new.role.as_str())
        .bind(&org.id)
        .bind(new.confirmed_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        let user = UserRecord {
            id,
            email: new.email.trim().to_owned(),
            password_hash: new.password_hash.to_owned(),
            role: new.role,
            organization_id: org.id.clone(),
            confirmed_at: new.confirmed_at,
            created_at: now,
        };
        Ok(Some((user, org)))
    }

    pub async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this e-mail, whatever its case.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_key = $1"
        ))
        .bind(email_key(email))
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Marks the user's e-mail confirmed (the first confirmation counts).
    pub async fn confirm_user(&self, user_id: &str, now: Millis) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL")
            .bind(now)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn set_role(&self, user_id: &str, role: Role) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn organization(&self, id: &str) -> Result<Option<OrganizationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    pub async fn organization_by_slug(
        &self,
        slug: &str,
    ) -> Result<Option<OrganizationRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ORG_COLUMNS} FROM organizations WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    /// Keeps the company's details in the account ("Add company info").
    pub async fn save_company(
        &self,
        organization_id: &str,
        company: &CompanyInfo,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE organizations SET name = $1, address = $2, tax_id = $3, billing_email = $4, \
             company_saved = 1 WHERE id = $5",
        )
        .bind(company.name.trim())
        .bind(join_lines(&company.address))
        .bind(company.tax_id.trim())
        .bind(company.billing_email.trim())
        .bind(organization_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
